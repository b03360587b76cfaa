from bpm_common.migrations import run_env
from services.runtime import models  # noqa: F401 - registers every table
from services.runtime.database import Base

run_env(Base.metadata)

from bpm_common.migrations import run_env
from services.runtime.database import Base
from services.runtime import models  # noqa: F401 - registers every table

run_env(Base.metadata)

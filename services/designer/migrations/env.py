from bpm_common.migrations import run_env
from services.designer import models  # noqa: F401 - registers every table
from services.designer.database import Base

run_env(Base.metadata)

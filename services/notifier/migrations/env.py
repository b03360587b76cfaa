from bpm_common.migrations import run_env
from services.notifier import models  # noqa: F401 - registers every table
from services.notifier.database import Base

run_env(Base.metadata)

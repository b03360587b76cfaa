from bpm_common.migrations import run_env
from services.metrics import models  # noqa: F401 - registers every table
from services.metrics.database import Base

run_env(Base.metadata)

"""Import every table of the designer so Alembic and the app see the whole schema."""

from services.designer.definitions import models as definition_models  # noqa: F401
from services.designer.org import models as org_models  # noqa: F401

"""Import every table of the designer so Alembic and the app see the whole schema."""

from services.designer.definitions import models as definition_models  # noqa: F401
from services.designer.dictionaries import models as dictionary_models  # noqa: F401
from services.designer.forms import models as form_models  # noqa: F401
from services.designer.org import models as org_models  # noqa: F401
from services.designer.suggestions import models as suggestion_models  # noqa: F401

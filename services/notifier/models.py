"""Import every table of the notifier so Alembic and the app see the whole schema."""

from services.notifier.deliveries.models import Delivery
from services.notifier.notifications.models import Notification, TaskClosure
from services.notifier.org.models import OrgDepartment, OrgUser

__all__ = ["Delivery", "Notification", "OrgDepartment", "OrgUser", "TaskClosure"]

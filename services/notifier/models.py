"""Import every table of the notifier so Alembic and the app see the whole schema."""

from services.notifier.actions.models import UsedActionLink
from services.notifier.channels.models import ChannelConfig
from services.notifier.deliveries.models import ChannelRateBucket, Delivery, DeliveryAttempt
from services.notifier.notifications.models import Notification, OpenTask, TaskClosure
from services.notifier.org.models import OrgDepartment, OrgUser
from services.notifier.preferences.models import NotificationPreference

__all__ = [
    "ChannelConfig",
    "ChannelRateBucket",
    "Delivery",
    "DeliveryAttempt",
    "Notification",
    "NotificationPreference",
    "OpenTask",
    "OrgDepartment",
    "OrgUser",
    "TaskClosure",
    "UsedActionLink",
]

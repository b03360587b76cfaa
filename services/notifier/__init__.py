"""The notifier service: who must hear what, the in-app inbox, and delivery on channels."""

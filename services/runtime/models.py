"""Import every table of the runtime so Alembic and the app see the whole schema."""

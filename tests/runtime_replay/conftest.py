from tests.runtime.conftest import runtime  # noqa: F401

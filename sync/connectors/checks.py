"""Testing a connection: the admin action, the form and `connections test` share this."""

import logging

from sync.connectors import connector_for
from sync.connectors.base import TestResult
from sync.models import Connection
from sync.transport.http import RemoteError

logger = logging.getLogger(__name__)


def test_connection(connection: Connection) -> TestResult:
    """The connector's cheap test, as a result whatever happens: an unexpected crash is logged
    and reported, never a 500."""
    try:
        return connector_for(connection).test()
    except RemoteError as exc:
        return TestResult(False, exc.message)
    except Exception as exc:
        logger.exception("Testing connection %s crashed", connection.pk)
        return TestResult(False, f"The test could not run ({type(exc).__name__}: {exc}).")

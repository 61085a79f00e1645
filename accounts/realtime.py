"""Tell a user's open WebSockets that their tokens were revoked.

Every authenticated socket joins its user's group (``accounts.ws_auth``); a
logout or a replayed refresh token sends one message there, on commit, and
each socket authenticated in an older generation closes itself with 4401.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

TOKENS_REVOKED = "auth.revoked"


def user_group(user_id) -> str:
    return f"accounts.user.{user_id}"


def broadcast_tokens_revoked(*, user_id, generation: int) -> None:
    """Ask the user's sockets older than ``generation`` to close.

    Best effort, like every channel-layer send: a socket that misses it is
    still refused at its next handshake, so a failure is logged, not raised.
    """
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(
            user_group(user_id), {"type": TOKENS_REVOKED, "generation": generation}
        )
    except Exception:
        logger.exception("realtime.revoke_broadcast_failed user=%s", user_id)

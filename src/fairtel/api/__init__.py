"""api: the REST API (FastAPI) over one fairtel home.

Owns: authentication (scrypt passwords, signed bearer tokens with expiry, ended early by logging out, hashed API
keys), the access rules of each role (``Access``: subscribers see their own lines, agents a customer only while
handling their case, analysts pseudonyms), the access audit of every personal-data read or change, the mapping of error codes to
HTTP statuses (``STATUS_OF_CODE``), pagination, and limits on request size and rate. Does not own: the data
(store/), the rules of roles (privacy/), or the domain decisions (consent/, assurance/, ...), which it calls.
"""

from fairtel.api._access import Access, Pseudonyms
from fairtel.api._app import create_app
from fairtel.api._errors import (
    STATUS_OF_CODE,
    AssistantUnavailableError,
    NoAssignmentError,
    NotAuthenticatedError,
    RateLimitedError,
    RequestTooLargeError,
    status_for,
)
from fairtel.api._security import Principal, TokenSigner, hash_password, verify_password
from fairtel.api._services import ApiOptions, Assistant, ChatReply, Services
from fairtel.api._users import (
    UserInfo,
    authenticate,
    create_api_key,
    create_user,
    list_users,
    revoke_api_key,
    set_disabled,
)

__all__ = [
    "STATUS_OF_CODE",
    "Access",
    "ApiOptions",
    "Assistant",
    "AssistantUnavailableError",
    "ChatReply",
    "NoAssignmentError",
    "NotAuthenticatedError",
    "Principal",
    "Pseudonyms",
    "RateLimitedError",
    "RequestTooLargeError",
    "Services",
    "TokenSigner",
    "UserInfo",
    "authenticate",
    "create_api_key",
    "create_app",
    "create_user",
    "hash_password",
    "list_users",
    "revoke_api_key",
    "set_disabled",
    "status_for",
    "verify_password",
]

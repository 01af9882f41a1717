"""Choosing which page an account publishes as (Facebook: one of the Pages its user manages).
The page's own token is stored with the other secrets and never returned."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from herald.adapters import adapter_for
from herald.crypto import CredentialCipher
from herald.db.models import SocialAccount
from herald.errors import HeraldError
from platforms.base import AuthExpired, PlatformError, Rejected
from platforms.registry import AdapterRegistry


class SelectPageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_id: str = Field(min_length=1, max_length=200)


async def select_page(
    adapters: AdapterRegistry, cipher: CredentialCipher, account: SocialAccount, page_id: str
) -> None:
    """Asks the platform for the account's pages and switches to `page_id` (400 if it is not
    one of them); the caller commits."""
    context = cipher.context_of(account)
    try:
        pages = await adapter_for(adapters, account.platform).list_pages(context)
    except AuthExpired as err:
        raise HeraldError.conflict(f"the account's access was refused ({err.message})") from err
    except Rejected as err:
        raise HeraldError.invalid("page_id", err.message) from err
    except PlatformError as err:
        raise HeraldError.platform_unreachable(account.platform, err.message) from err
    page = next((p for p in pages if str(p.get("id")) == page_id), None)
    if page is None:
        known = ", ".join(f"{p.get('id')} ({p.get('name')})" for p in pages) or "none"
        raise HeraldError.invalid("page_id", f"not one of the account's pages: {known}")
    credentials = {
        **context.credentials,
        "page_id": page_id,
        "page_access_token": str(page.get("access_token") or ""),
    }
    account.credentials_encrypted = cipher.encrypt(credentials)
    account.platform_account_id = page_id
    account.display_name = str(page.get("name") or account.display_name or "") or None

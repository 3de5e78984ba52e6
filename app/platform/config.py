"""Settings: every environment variable of ARCHITECTURE.md, validated at start-up."""
from __future__ import annotations

import re
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GEMINI_MODEL = "gemini-3.5-flash"  # a stable Flash model in Nov 2026; set it via env
VK_INTENTS = ("account_update", "bot_ad_invite", "bot_ad_promo", "confirmed_notification",
              "customer_support", "default", "finance_notification", "game_notification",
              "moderated_newsletter", "non_promo_newsletter", "promo_newsletter",
              "purchase_update")
# intents VK sends only to users who subscribed (intent_subscribe button / getIntentUsers)
SUBSCRIPTION_INTENTS = ("confirmed_notification", "non_promo_newsletter", "promo_newsletter")
VK_MEDIA_HOSTS = ("userapi.com,vk.com,vk.ru,vkuseraudio.net,vkuserphoto.ru,vk-cdn.net,"
                  "vkuservideo.net,vkuser.net,mycdn.me")
_QUIET_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def normalize_database_url(url: str) -> str:
    """Railway gives `postgres://` or `postgresql://`; we speak psycopg2 explicitly."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: Optional[str] = None
    data_dir: str = ".data"
    # the local chat page and VK stand-in (`make run` sets it); ignored on a server (app.platform.runmode)
    local_mode: bool = False

    vk_group_id: Optional[int] = None
    vk_group_token: Optional[str] = None
    vk_confirmation_code: str = ""
    vk_secret: Optional[str] = None
    vk_api_base_url: str = "https://api.vk.com/method"
    vk_api_version: str = "5.199"
    vk_timeout_s: float = Field(10.0, gt=0)
    vk_max_rps: float = Field(20.0, gt=0, le=20)  # VK's limit per community token
    # gunicorn processes sharing the token; the Procfile starts ${WEB_CONCURRENCY:-2} of them
    web_concurrency: int = Field(2, ge=1)

    # attachments (voice notes, photos, image documents) downloaded for the model
    vk_media_allowed_hosts: str = VK_MEDIA_HOSTS  # host suffixes; tests add 127.0.0.1
    vk_media_max_bytes: int = Field(8_000_000, gt=0)  # per file (inline parts: < 20 MB total)
    vk_media_timeout_s: float = Field(10.0, gt=0)  # whole download, not per read
    voice_max_seconds: int = Field(180, gt=0)  # longer voice notes are not sent to the model
    typing_grace_s: float = Field(10.0, ge=0)  # "typing…" moves the reply this far out
    typing_max_wait_s: float = Field(60.0, ge=0)  # …but never past the last message + this
    vk_buttons: bool = True  # inline keyboards on replies (only to apps that show them)
    vk_reply_window_hours: float = Field(24.0, gt=0)  # default intent within this window
    vk_intent_reminder: str = "confirmed_notification"
    vk_intent_access_extension: str = "purchase_update"
    vk_subscribe_id: Optional[int] = Field(1, ge=0, le=100)

    gemini_api_key: Optional[str] = None
    gemini_base_url: Optional[str] = None
    gemini_analysis_model: str = DEFAULT_GEMINI_MODEL
    gemini_reply_model: str = DEFAULT_GEMINI_MODEL
    gemini_timeout_s: float = Field(30.0, gt=0)
    gemini_max_output_tokens: int = Field(8192, ge=256)  # every model call's output cap
    # USD per 1M tokens for the configured Flash model (paid tier, prompts <= 200k tokens).
    # Defaults follow Google's Flash price list of late 2026; CHECK them against
    # https://ai.google.dev/gemini-api/docs/pricing whenever the model or the prices change.
    gemini_price_input_per_m: float = Field(0.50, ge=0)
    gemini_price_output_per_m: float = Field(3.00, ge=0)  # output incl. thinking tokens
    gemini_price_cached_per_m: float = Field(0.05, ge=0)  # cached part of the prompt
    # a purchase counts "after a dialog" when the buyer wrote within this many days before paying
    report_attribution_days: int = Field(30, ge=1)
    # the whole KB goes into both prompts while it fits this many tokens; past it, retrieval
    kb_context_token_budget: int = Field(200_000, ge=0)

    knowledge_base_path: str = "knowledge_base.json"
    debounce_seconds: float = Field(8.0, ge=0)
    # turns in flight per process: I/O-bound threads that mostly wait on the model or VK
    worker_threads: int = Field(64, ge=0, le=512)
    # model calls at once per process; calls beyond wait for a slot (never dropped). 48 x 2
    # processes of ~3 s calls is ~1 900 requests a minute: a paid tier's Flash quota
    model_max_concurrency: int = Field(48, ge=1, le=1024)
    worker_poll_s: float = Field(0.25, gt=0)  # one claim query per interval per process
    # a turn's lease: kept alive by a heartbeat (every lease/5), so a dead process loses its
    # turns within this many seconds
    claim_timeout_s: float = Field(25.0, gt=0)
    # on SIGTERM: how long running turns may take to finish before they are handed to the
    # next process (keep it under gunicorn's --graceful-timeout)
    shutdown_drain_s: float = Field(12.0, ge=0)
    max_turn_attempts: int = Field(8, ge=1)  # with backoff: ~35 min before a person is called
    history_window: int = Field(20, ge=1, le=200)

    admin_password: Optional[str] = None
    secret_key: Optional[str] = None
    manager_peer_ids: str = ""
    school_timezone: str = "Europe/Moscow"
    quiet_hours: Optional[str] = None  # "21:00-09:00", "off", unset → KB working hours
    run_scheduler: bool = True
    start_workers: bool = True
    reminder_grace_hours: float = Field(12.0, ge=0)
    max_proactive_per_week: int = Field(3, ge=0)
    handoff_pause_hours: float = Field(12.0, ge=0)
    access_reminder_days: int = Field(7, ge=0)
    payment_webhook_secret: Optional[str] = None
    port: int = 5000
    # the eval lab (`flask eval run`): where runs are written and the panel looks for them,
    # and the judge's model (unset: GEMINI_ANALYSIS_MODEL)
    eval_runs_dir: str = "eval-runs"
    eval_judge_model: Optional[str] = None
    log_json: bool = False
    secure_cookies: Optional[bool] = None  # unset: on when running on Railway (HTTPS)
    trust_proxy: Optional[bool] = None  # unset: on when running on Railway (behind its proxy)

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: Optional[str]) -> Optional[str]:
        return normalize_database_url(v) if v else None

    @field_validator("school_timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: Optional[str]) -> Optional[str]:
        if v is None or v.strip() == "" :
            return None
        v = v.strip().lower()
        if v == "off":
            return v
        m = _QUIET_RE.match(v)
        if not m or int(m[1]) > 23 or int(m[3]) > 23 or int(m[2]) > 59 or int(m[4]) > 59:
            raise ValueError("QUIET_HOURS must look like 21:00-09:00 or be 'off'")
        return v

    @field_validator("vk_intent_reminder", "vk_intent_access_extension")
    @classmethod
    def _intent(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in VK_INTENTS:
            raise ValueError(f"unknown VK intent {v!r}; one of: {', '.join(VK_INTENTS)}")
        return v

    @property
    def media_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip().lower().lstrip(".") for h in self.vk_media_allowed_hosts.split(",")
                     if h.strip())

    @field_validator("manager_peer_ids")
    @classmethod
    def _managers(cls, v: str) -> str:
        for part in filter(None, (p.strip() for p in v.split(","))):
            if not part.lstrip("-").isdigit():
                raise ValueError(f"MANAGER_PEER_IDS: {part!r} is not a VK id")
        return v

    @property
    def manager_ids(self) -> list[int]:
        return [int(p) for p in (x.strip() for x in self.manager_peer_ids.split(",")) if p]

    @property
    def on_railway(self) -> bool:
        import os

        return bool(os.environ.get("RAILWAY_ENVIRONMENT") or os.environ.get("RAILWAY_PROJECT_ID"))

    @property
    def cookies_secure(self) -> bool:
        return self.on_railway if self.secure_cookies is None else self.secure_cookies

    @property
    def behind_proxy(self) -> bool:
        return self.on_railway if self.trust_proxy is None else self.trust_proxy

    @property
    def vk_configured(self) -> bool:
        return bool(self.vk_group_token)

    @property
    def gemini_configured(self) -> bool:
        return bool(self.gemini_api_key)

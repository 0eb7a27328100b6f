"""Process settings read from the environment (and an optional .env file)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.integrations import smtp_mail

DEFAULT_API_URL = "https://slack.com/api/"


class Settings(BaseSettings):
    """Every setting the bot reads; names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: str = Field(min_length=1)
    slack_signing_secret: str = Field(min_length=1)
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_API_URL
    database_url: str = "sqlite:///incident-bot.db"
    incident_bot_config: Path | None = None
    port: int = Field(default=3000, ge=0, le=65535)  # 0: any free port
    host: str = "0.0.0.0"  # noqa: S104 - the HTTP mode server must be reachable by Slack
    slack_timeout_seconds: int = Field(default=10, ge=1, le=120)
    http_threads: int = Field(default=8, ge=2, le=256)
    sweep_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    auto_migrate: bool = True
    log_level: str = "INFO"
    # Where people reach this bot's HTTP server (https://status.example.com): links in the
    # status page's JSON and Atom feed are made absolute with it (never from the Host header).
    public_url: str | None = None
    # Email: smtp://user:password@host:587 (STARTTLS when offered), smtps://…:465 (TLS).
    smtp_url: SecretStr | None = None  # secret: it may hold the password
    smtp_from: str | None = None

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: str) -> str:
        if not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def normalise_database_url(cls, value: str) -> str:
        """Check the URL's scheme and pick the psycopg 3 driver for PostgreSQL."""
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if value.startswith("postgres:"):
            value = "postgresql:" + value.removeprefix("postgres:")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level_shape(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @field_validator("public_url")
    @classmethod
    def _public_url_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://status.example.com")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must be scheme://host[:port][/path], with nothing after the path")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("has a port that is not a number from 1 to 65535") from None
        return value.strip().rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        smtp_mail.parse_url(value.get_secret_value(), "check@example.com")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return smtp_mail.check_sender(value)

    @model_validator(mode="after")
    def _smtp_from_with_url(self) -> Settings:
        if self.smtp_url is not None and self.smtp_from is None:
            raise ValueError("SMTP_FROM is not set: email (SMTP_URL is set) needs a sender address")
        return self

    def smtp_server(self) -> smtp_mail.SmtpServer | None:
        """The mail server email goes through (None: email is off)."""
        if self.smtp_url is None or self.smtp_from is None:
            return None
        return smtp_mail.parse_url(self.smtp_url.get_secret_value(), self.smtp_from)

    @property
    def socket_mode(self) -> bool:
        """Whether to connect over Socket Mode instead of serving HTTP."""
        return self.slack_app_token is not None


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:  # a rule across settings names them itself
            raise ConfigError(message) from None
        name = str(first["loc"][0]).upper()
        if first["type"] == "missing":
            raise ConfigError(f"{name} is not set: it is required") from None
        raise ConfigError(f"{name} is invalid: {message}") from None

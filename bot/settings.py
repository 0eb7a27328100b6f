"""Process settings read from the environment (and an optional .env file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

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
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        if first["type"] == "missing":
            raise ConfigError(f"{name} is not set: it is required") from None
        raise ConfigError(
            f"{name} is invalid: {str(first['msg']).removeprefix('Value error, ')}"
        ) from None

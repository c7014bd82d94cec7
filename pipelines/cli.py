"""The command line of every entry point: overrides checked first, exit codes, no secrets.

:func:`launch` checks the overrides before Hydra runs (exit 2 with a one-line reason, where
Hydra would exit 1 with a hint); :func:`run_main` runs ``run(cfg)`` and turns a known failure
into its exit code and a one-line reason on stderr, with credentials redacted from the logs and
from Hydra's copies of the run's config.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from omegaconf import DictConfig

from churn import secrets
from churn.errors import ChurnError, ConfigError, storage_error
from churn.files import atomic_file

log = logging.getLogger(__name__)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def launch(main: Callable[[], None], config_name: str, argv: list[str] | None = None) -> None:
    """Check the overrides (a sweep by its first value), then run Hydra's ``main``."""
    try:
        check_overrides(config_name, sys.argv[1:] if argv is None else argv)
    except ConfigError as err:
        _exit(err)
    main()


def check_overrides(config_name: str, argv: list[str]) -> None:
    """Compose ``config_name`` with the overrides in ``argv`` the way Hydra will.

    Raises:
        ConfigError: an override that does not parse, a key or option that does not exist.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if any(arg in ("--config-name", "-cn", "--config-dir", "-cd") for arg in argv):
        return  # another primary config: Hydra checks it itself
    words = [a for i, a in enumerate(argv) if _is_override(a, argv[i - 1] if i else None)]
    try:
        parsed = OverridesParser.create().parse_overrides(words)
        first = [
            f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}"
            if o.is_sweep_override()
            else o.input_line
            for o in parsed
            if not o.key_or_group.startswith("hydra")
        ]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            compose(config_name=config_name, overrides=[f for f in first if f])
    except (HydraException, OmegaConfBaseException) as err:
        cause = err.__cause__
        detail = str(cause).splitlines()[0] if cause is not None and str(cause) else ""
        lines = [line for line in str(err).splitlines() if not line.startswith("To append")]
        reason = " ".join(" ".join([*lines, f"({detail})" if detail else ""]).split())
        reason = reason.split(" Config search path:")[0]  # the search path names local folders
        raise ConfigError(f"command line: {reason}") from err


def _is_override(word: str, previous: str | None) -> bool:
    if word.startswith("-"):
        return False
    if previous is not None and previous.startswith("-") and "=" not in word:
        return False  # the value of a flag, e.g. --cfg job
    return "=" in word or word.startswith("~")


def run_main(run: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Call ``run(cfg)``; on a known failure exit with its code and a one-line reason on stderr."""
    secrets.install_log_filter()
    _redact_run_folder()
    try:
        return run(cfg)
    except ChurnError as err:
        _exit(err)
    except OSError as err:
        known = storage_error(err)
        if known is None:
            raise
        _exit(known)


def _redact_run_folder() -> None:
    """Hydra's copies of the run's config and overrides without credentials; a private log."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    saved = run_dir / hydra_cfg.output_subdir if hydra_cfg.output_subdir else None
    for path in sorted(saved.glob("*.yaml")) if saved is not None and saved.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        with atomic_file(path) as tmp:
            tmp.write_text(secrets.redact(text), encoding="utf-8")
    log_file = run_dir / f"{hydra_cfg.job.name}.log"
    if log_file.is_file():
        log_file.chmod(0o600)


def _exit(err: ChurnError) -> NoReturn:
    reason = secrets.redact(" ".join(str(err).split()))
    log.error("%s: %s", type(err).__name__, reason)
    sys.stderr.write(f"{type(err).__name__}: {reason}\n")
    sys.exit(err.exit_code)

"""The settings object: precedence, validation errors naming the setting, and the README table."""

from pathlib import Path

import pytest

from tablepulse_settings import Settings, SettingsError, load, parse_hhmm, settings_table

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_valid(tmp_path):
    s = load(env={}, path=None) if not (Path.cwd() / "tablepulse.toml").exists() else Settings()
    assert s.window_days == 14 and s.party_sizes == [2, 4] and s.time_slots == ["15:00", "19:00"]


def test_precedence_file_then_env_then_override(tmp_path):
    cfg = tmp_path / "tp.toml"
    cfg.write_text('window_days = 7\nparty_sizes = [2]\nsim_venues = 50\n')
    s = load(cfg, env={"TABLEPULSE_WINDOW_DAYS": "10"}, sim_venues=60)
    assert (s.window_days, s.party_sizes, s.sim_venues) == (10, [2], 60)


def test_section_form_is_accepted(tmp_path):
    cfg = tmp_path / "tp.toml"
    cfg.write_text('[tablepulse]\nbucket_cooldown_s = 12.5\n')
    assert load(cfg, env={}).bucket_cooldown_s == 12.5


@pytest.mark.parametrize("content, needle", [
    ("window_days = 0", "window_days"),
    ("bucket_cooldown_s = 1", "bucket_cooldown_s"),
    ("window_days = 'x'", "window_days"),
    ("no_such_setting = 1", "no_such_setting"),
    ("time_slots = ['25:00']", "25:00"),
    ("log_level = 'LOUD'", "log_level"),
    ("timezone = 'Mars/Olympus'", "timezone"),
    ("window_days = ", "not valid TOML"),
])
def test_bad_file_values_name_the_setting(tmp_path, content, needle):
    cfg = tmp_path / "tp.toml"
    cfg.write_text(content + "\n")
    with pytest.raises(SettingsError, match=needle):
        load(cfg, env={})


def test_bad_env_value_names_the_variable():
    with pytest.raises(SettingsError, match="max_in_flight"):
        load(env={"TABLEPULSE_MAX_IN_FLIGHT": "many"})
    with pytest.raises(SettingsError, match="TABLEPULSE_NOPE"):
        load(env={"TABLEPULSE_NOPE": "1"})


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load(tmp_path / "absent.toml", env={})


def test_secrets_are_masked():
    s = Settings().replace(api_key="real-secret")
    assert s.public_items()["api_key"] == "***"


def test_every_setting_flagged_secret_is_masked_and_the_keys_are_flagged():
    from dataclasses import fields

    secret = {f.name for f in fields(Settings) if f.metadata["secret"]}
    assert {"api_key", "auth_token", "write_keys"} <= secret
    values = {n: ["marker-a", "marker-b"] if n == "write_keys" else f"marker-{n}" for n in secret}
    public = Settings().replace(**values).public_items()
    assert "marker" not in repr(public)
    assert public["write_keys"] == ["***", "***"]  # how many keys, not which
    assert public["auth_token"] == "***" and public["window_days"] == 14  # the rest as it is


def test_readme_lists_every_setting_with_its_default():
    readme = (ROOT / "README.md").read_text()
    for name, default, _help in settings_table():
        assert f"| `{name}` | `{default}` |" in readme, f"README configuration table lacks {name}"


@pytest.mark.parametrize("text", ["7:00", "24:00", "19:60", "19-00", "19:00:00", "", "ab:cd", None])
def test_the_one_hhmm_parser_names_a_bad_time(text: object) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_hhmm(text)


def test_the_one_hhmm_parser_reads_a_good_time() -> None:
    assert parse_hhmm("00:00") == (0, 0) and parse_hhmm("19:05") == (19, 5) and parse_hhmm("23:59") == (23, 59)

"""The inventory's JSON Schema (Draft 2020-12): the shape every inventory file is checked
against before its hosts are cross-checked. ``x-expected`` in a sub-schema is the wording
:mod:`stackdrill.inventory.problems` uses for a value that does not fit it."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from stackdrill.inventory.model import (
    JOURNAL_MIRRORS,
    LOCK_BACKENDS,
    ROLES,
    RUNTIMES,
    TEMPEST_SERVICES,
)

__all__ = ["INVENTORY_SCHEMA", "VALIDATOR"]

_NAME_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}
_TIMEOUT_SCHEMA: dict[str, Any] = {
    "type": "number",
    "exclusiveMinimum": 0,
    "x-expected": "number > 0",
}

_HTTP_URL_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
    "x-expected": "http:// or https:// URL without query or whitespace",
}

INVENTORY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "stackdrill inventory",
    "type": "object",
    "additionalProperties": False,
    "required": ["hosts"],
    "properties": {
        "cloud": {"type": ["string", "null"], "minLength": 1},
        "production": {"type": "boolean"},
        "deployment": _NAME_SCHEMA,
        "profile": {"$ref": "#/$defs/profile"},
        "defaults": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ssh": {"$ref": "#/$defs/ssh"},
                "power": {"$ref": "#/$defs/power"},
            },
        },
        "hosts": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _NAME_SCHEMA,
            "additionalProperties": {"$ref": "#/$defs/host"},
        },
        "services": {
            "type": "object",
            "propertyNames": _NAME_SCHEMA,
            "additionalProperties": {"$ref": "#/$defs/service"},
        },
        "protected": {"type": "array", "items": _NAME_SCHEMA},
        "secrets_files": {"type": "array", "items": _NAME_SCHEMA},
        "coordination": {"$ref": "#/$defs/coordination"},
        "keystone": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"tokens_survive": {"type": "boolean"}},
        },
        # how this deployment installs an OpenStack release: the upgrade procedures' commands
        "upgrade": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "install": {"type": "string", "minLength": 1},
                "install_compute": {"type": "string", "minLength": 1},
                "install_previous": {"type": "string", "minLength": 1},
                "bin_dir": {"type": "string", "pattern": "^/[^\\s'\";$`\\\\]*$"},
            },
        },
        "clusters": {
            "type": "object",
            "propertyNames": _NAME_SCHEMA,
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": _NAME_SCHEMA,
            },
        },
        "vips": {
            "type": "object",
            "propertyNames": _NAME_SCHEMA,
            "additionalProperties": {"$ref": "#/$defs/vip"},
        },
        "tempest": {"$ref": "#/$defs/tempest"},
        "alerts": {
            "type": "object",
            "additionalProperties": False,
            "required": ["alertmanager"],
            "properties": {
                "alertmanager": _HTTP_URL_SCHEMA,
                "prometheus": _HTTP_URL_SCHEMA,
                "rule_files": {"type": "array", "minItems": 1, "items": _NAME_SCHEMA},
            },
        },
    },
    "$defs": {
        "tempest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "services": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {name: {"type": "boolean"} for name in TEMPEST_SERVICES},
                },
                "image": _NAME_SCHEMA,
                "image_alt": _NAME_SCHEMA,
                "flavor": _NAME_SCHEMA,
                "flavor_alt": _NAME_SCHEMA,
                "guest_networking": {"type": "boolean"},
                "ssh_validation": {"type": "boolean"},
                "volume": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "storage_protocol": _NAME_SCHEMA,
                        "vendor_name": _NAME_SCHEMA,
                        "snapshots": {"type": "boolean"},
                        "clones": {"type": "boolean"},
                        "backups": {"type": "boolean"},
                    },
                },
                "concurrency": {"type": "integer", "minimum": 1, "x-expected": "integer >= 1"},
                "deadline": _TIMEOUT_SCHEMA,
                "options": {
                    "type": "object",
                    "propertyNames": {
                        "pattern": r"^[A-Za-z0-9_-]+$",
                        "x-expected": "tempest.conf section name (letters, digits and _-)",
                    },
                    "additionalProperties": {
                        "type": "object",
                        "propertyNames": {
                            "pattern": r"^[A-Za-z0-9_]+$",
                            "x-expected": "tempest.conf option name (letters, digits and _)",
                        },
                        "additionalProperties": {
                            "type": ["string", "number", "boolean"],
                            "pattern": r"^[^\n\r]*$",
                            "x-expected": "one-line string, number or boolean",
                        },
                    },
                },
            },
        },
        "vip": {
            "type": "object",
            "additionalProperties": False,
            "required": ["address"],
            "properties": {
                "address": {
                    "type": "string",
                    "pattern": r"^[0-9A-Fa-f.:]+$",
                    "x-expected": "IPv4 or IPv6 address",
                },
                "hosts": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": _NAME_SCHEMA,
                },
            },
        },
        "coordination": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "lock": {"enum": list(LOCK_BACKENDS)},
                "journal": {"enum": list(JOURNAL_MIRRORS)},
                "url": {
                    "type": "string",
                    "pattern": r"^[a-z][a-z0-9+.-]*://\S+$",
                    "x-expected": "URL (scheme://...) without whitespace",
                },
                "database_config": {
                    "type": "string",
                    "pattern": r"^/[^\s;|&$`'\"\\]*$",
                    "x-expected": "absolute path on the controller (no whitespace or quotes)",
                },
                "directory": {
                    "type": "string",
                    "pattern": r"^/[A-Za-z0-9_./-]*$",
                    "x-expected": "absolute path on the controller (letters, digits and _./-)",
                },
                "container": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                    "x-expected": "Swift container name (letters, digits and _.-)",
                },
            },
        },
        "profile": {
            "if": {"type": "string"},
            "then": {"$ref": "#/$defs/profile_name"},
            "else": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"$ref": "#/$defs/profile_name"},
                    "variant": _NAME_SCHEMA,
                    "runtime": {"enum": ["docker", "podman"]},
                    "dirs": {"type": "array", "items": _NAME_SCHEMA},
                },
            },
        },
        "profile_name": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
            "x-expected": "profile name (letters, digits and _.-)",
        },
        "ssh": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "user": {
                    "type": "string",
                    "pattern": r"^\S+$",
                    "x-expected": "non-empty string without whitespace",
                },
                "port": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 65535,
                    "x-expected": "integer 1..65535",
                },
                "key": {"type": ["string", "null"], "minLength": 1},
                "known_hosts": _NAME_SCHEMA,
                "strict_host_key_checking": {"type": "boolean"},
                "jump": {"type": ["string", "null"], "minLength": 1},
                "connect_timeout": _TIMEOUT_SCHEMA,
                "command_timeout": _TIMEOUT_SCHEMA,
            },
        },
        "power": {
            "type": "object",
            "propertyNames": {"type": "string"},
            "properties": {"driver": _NAME_SCHEMA},
        },
        "host": {
            "type": "object",
            "additionalProperties": False,
            "required": ["address", "roles"],
            "properties": {
                "address": {
                    "type": "string",
                    "pattern": r"^\S+$",
                    "x-expected": "non-empty string without whitespace",
                },
                "roles": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": list(ROLES)},
                },
                "ssh": {"$ref": "#/$defs/ssh"},
                "power": {"$ref": "#/$defs/power"},
            },
        },
        "service": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "unit": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9:_.@-]+$",
                    "x-expected": "systemd unit name (letters, digits and :_.@-)",
                },
                "container": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                    "x-expected": "container name (letters, digits and _.-)",
                },
                "runtime": {"enum": list(RUNTIMES)},
            },
            "oneOf": [{"required": ["unit"]}, {"required": ["container"]}],
            "dependentRequired": {"runtime": ["container"]},
        },
    },
}

VALIDATOR = Draft202012Validator(INVENTORY_SCHEMA)
"""Checks loaded data against :data:`INVENTORY_SCHEMA`, every error at once."""

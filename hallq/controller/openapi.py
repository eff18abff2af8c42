"""The OpenAPI 3.1 document at /api/openapi.json, built from the command structs."""

from __future__ import annotations

from typing import Any

import msgspec

from hallq import __version__
from hallq.controller.routes import COMMAND_ROUTES

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "machine-readable, snake_case"},
                "message": {"type": "string", "description": "for a person, Chinese first"},
            },
        }
    },
}

_REPLY = {
    "type": "object",
    "required": ["ok", "seq", "events"],
    "properties": {
        "ok": {"type": "boolean"},
        "seq": {"type": "integer", "description": "sequence number of the last event"},
        "events": {"type": "array", "items": {"type": "object"}},
        "ticket": {
            "type": "object",
            "description": "the ticket issued (issueTicket): id, number, service, category, "
            "appointment, ahead, estimate_minutes, estimate_p90_minutes, issued_at",
        },
        "called": {"type": "object", "description": "the ticket called, if any"},
        "repeated": {"type": "boolean", "description": "true when the request id was seen before"},
    },
}


_MINUTES = {"type": ["number", "null"]}

_TICKET = {
    "type": "object",
    "required": ["id", "number", "service", "status", "issued_at", "estimate_at_issue_minutes"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string", "description": "as shown, e.g. A012"},
        "service": {"type": "string"},
        "status": {"type": "string"},
        "category": {"type": ["string", "null"], "description": "priority class, if any"},
        "issued_at": {"type": "number"},
        "window": {"type": ["integer", "null"]},
        "called_at": {"type": ["number", "null"]},
        "ahead": {"type": "integer", "description": "waiting: tickets before it"},
        "estimate_minutes": {
            **_MINUTES,
            "description": "waiting: the expected wait from now (null: no window serves it)",
        },
        "estimate_p90_minutes": {
            **_MINUTES,
            "description": "waiting: 9 in 10 are called within this (docs/ESTIMATES.md)",
        },
        "estimate_at_issue_minutes": {**_MINUTES, "description": "as printed on the ticket"},
        "estimate_p90_at_issue_minutes": {**_MINUTES, "description": "the P90 at issue"},
        "status_path": {"type": "string", "description": "the citizen's status page"},
    },
}

_UPLINK = {
    "type": "object",
    "required": [
        "configured",
        "url",
        "status",
        "acked",
        "last_seq",
        "backlog",
        "lag_seconds",
        "last_ok_at",
        "last_error",
        "next_try_at",
    ],
    "properties": {
        "configured": {"type": "boolean", "description": "the configuration has [uplink]"},
        "url": {"type": ["string", "null"], "description": "the central server"},
        "status": {
            "type": "string",
            "enum": ["off", "starting", "ok", "offline", "refused", "error", "no_token"],
        },
        "acked": {
            "type": ["integer", "null"],
            "description": "the last sequence number the central server has (null: not known yet)",
        },
        "last_seq": {"type": "integer", "description": "the newest event in the hall's log"},
        "backlog": {"type": ["integer", "null"], "description": "events not yet at the central"},
        "lag_seconds": {
            "type": ["number", "null"],
            "description": "age of the oldest event not yet shipped; 0 when caught up",
        },
        "last_ok_at": {"type": ["number", "null"], "description": "last batch accepted (epoch s)"},
        "last_error": {"type": "string", "description": "the last trouble, for a person"},
        "next_try_at": {"type": ["number", "null"], "description": "the next try after trouble"},
    },
}


_SCREEN_POWER = {
    "type": "object",
    "required": ["screen", "lit", "now", "next_change", "next_change_local"],
    "properties": {
        "screen": {"type": "string"},
        "lit": {"type": "boolean", "description": "the screen should be on now"},
        "now": {"type": "number", "description": "the controller's clock (epoch s)"},
        "next_change": {
            "type": "number",
            "description": "when `lit` next flips (epoch s); at most 60 days ahead: ask again then",
        },
        "next_change_local": {"type": "string", "description": "the same, in the hall's time"},
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": {
                400: "bad input",
                401: "wrong PIN",
                404: "not found",
                409: "a hall rule refused it",
                429: "locked after repeated wrong PINs",
                503: "storage unavailable",
            }[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def build_openapi() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [r.command for r in COMMAND_ROUTES], ref_template="#/components/schemas/{name}"
    )
    paths: dict[str, Any] = {}
    for route in COMMAND_ROUTES:
        name = route.command.__name__
        body = dict(components[name])
        props = {
            k: v
            for k, v in body.get("properties", {}).items()
            if k not in (*route.path_params, "command")
        }
        # request_id is required, in the body or as the Idempotency-Key header.
        required = [k for k in body.get("required", []) if k in props and k != "request_id"]
        props["request_id"] = {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "required unless the Idempotency-Key header is sent",
        }
        errors = [400, 404, 409, 503]
        if route.operation_id == "signIn":
            props["pin"] = {
                "type": "string",
                "description": "the staff member's PIN, when one is set (checked, never logged)",
            }
            errors += [401, 429]
        schema = {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": False,
        }
        params = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1}
                if p == "window"
                else {"type": "string"},
            }
            for p in route.path_params
        ]
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "Alternative to request_id in the body.",
            }
        )
        paths.setdefault(route.path, {})[route.method.lower()] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "parameters": params,
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {
                "200": {
                    "description": "done",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Reply"}}
                    },
                },
                **_errors(*errors),
            },
        }
    paths["/api/state"] = {
        "get": {
            "operationId": "getHallState",
            "summary": "The whole hall: services, waits, windows, tickets waiting, recent calls",
            "parameters": [
                {
                    "name": "tickets",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["waiting", "all", "none"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "the hall state; each service has estimate_minutes and "
                    "estimate_p90_minutes for a new ticket, each waiting ticket its own",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_errors(400),
            },
        }
    }
    paths["/api/tickets/{ticket}"] = {
        "get": {
            "operationId": "getTicket",
            "summary": "One of today's tickets, with its place, estimated wait and P90",
            "parameters": [
                {"name": "ticket", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "the ticket",
                    "content": {"application/json": {"schema": _TICKET}},
                },
                **_errors(404),
            },
        }
    }
    paths["/api/appointments/{code}"] = {
        "get": {
            "operationId": "getAppointment",
            "summary": "预约: an appointment's service and slot by its code (for kiosk check-in)",
            "parameters": [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "the appointment (no personal data)",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_errors(404),
            },
        }
    }
    paths["/api/events"] = {
        "get": {
            "operationId": "getEvents",
            "summary": "The event log by sequence number (for the uplink and reports)",
            "parameters": [
                {
                    "name": "after",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**62},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 10000},
                },
            ],
            "responses": {
                "200": {
                    "description": "events",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_errors(400),
            },
        }
    }
    paths["/api/feed"] = {
        "get": {
            "operationId": "feed",
            "summary": "WebSocket: a snapshot on connect, then every event; ?since=SEQ resumes",
            "parameters": [
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0},
                }
            ],
            "responses": {"101": {"description": "switching to WebSocket"}},
        }
    }
    paths["/api/voice/broadcast"] = {
        "post": {
            "operationId": "broadcast",
            "summary": "广播: say free text in the hall after the calls waiting",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["text"],
                            "additionalProperties": False,
                            "properties": {
                                "text": {"type": "string", "minLength": 1, "maxLength": 500},
                                "repeats": {"type": "integer", "minimum": 1, "maximum": 3},
                                "force": {"type": "boolean"},
                                "request_id": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": {"description": "queued"},
                **_errors(400, 409, 503),
            },
        }
    }
    paths["/api/uplink"] = {
        "get": {
            "operationId": "getUplink",
            "summary": "The uplink to the central server: status, position and lag (docs/UPLINK.md)",
            "responses": {
                "200": {
                    "description": "the uplink",
                    "content": {"application/json": {"schema": _UPLINK}},
                }
            },
        }
    }
    paths["/api/screens/{id}/power"] = {
        "get": {
            "operationId": "getScreenPower",
            "summary": "Whether a hall screen is lit now and when that changes (its power "
            "schedule on the controller's clock; the screen's display follows it)",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "lit or dark, and the next switch",
                    "content": {"application/json": {"schema": _SCREEN_POWER}},
                },
                **_errors(404),
            },
        }
    }
    paths["/api/health"] = {
        "get": {
            "operationId": "getHealth",
            "summary": "Liveness and the writer's figures",
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "hallq controller", "version": __version__},
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR, "Reply": _REPLY}},
    }

# Okta reports its behaviour detection as one string, "{New Device=POSITIVE, New IP=NEGATIVE,
# ...}"; reading it needs code, hence a Python rule.


def _behaviors(event):
    text = event.deep_get("debugContext", "debugData", "behaviors", default="")
    pairs = (item.split("=", 1) for item in text.strip("{}").split(",") if "=" in item)
    return {name.strip(): value.strip() == "POSITIVE" for name, value in pairs}


def rule(event):
    if event.get("eventType") != "user.session.access_admin_app":
        return False
    seen = _behaviors(event)
    new_place = seen.get("New Geo-Location", False) or seen.get("New IP", False)
    return seen.get("New Device", False) and new_place


def title(event):
    return (
        f"{event.deep_get('actor', 'alternateId')} opened the Okta admin console "
        f"from a new device and place ({event.deep_get('client', 'ipAddress')})"
    )


def dedup(event):
    return event.deep_get("actor", "alternateId")


def alert_context(event):
    return {
        "actor": event.get("actor"),
        "ip": event.deep_get("client", "ipAddress"),
        "behaviors": {k: v for k, v in _behaviors(event).items() if v},
    }

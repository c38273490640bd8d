# The second seed article's detection, in Python: a user added to the Bypass MFA group. Like the
# article it reads `eventtype`, which finds `eventType`: Panther's events are case-insensitive.

BYPASS_GROUP = "Bypass MFA Group"


def _targets(event):
    return event.get("target") or []


def rule(event):
    return (
        event.get("eventtype") == "group.user_membership.add"
        and event.deep_get("outcome", "result") == "SUCCESS"
        and any(
            t.get("type") == "UserGroup" and t.get("displayName") == BYPASS_GROUP
            for t in _targets(event)
        )
    )


def title(event):
    user = (_targets(event) or [{}])[0].get("displayName")
    return f"{event.deep_get('actor', 'displayName')} added {user} to the Bypass MFA group"


def dedup(event):
    users = [t.get("alternateId") for t in _targets(event) if t.get("type") == "User"]
    return users[0] if users else None


def alert_context(event):
    return {"actor": event.get("actor"), "target": event.get("target")}

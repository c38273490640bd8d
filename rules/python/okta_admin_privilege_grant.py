# The first seed article's detection, in Python: an Okta administrator privilege granted.
import re


def _granted(event):
    return event.deep_get("debugContext", "debugData", "privilegeGranted", default="")


def rule(event):
    return (
        event.get("eventType") == "user.account.privilege.grant"
        and event.deep_get("outcome", "result") == "SUCCESS"
        and bool(re.search(r"[aA]dministrator", _granted(event)))
    )


def title(event):
    target = (event.get("target") or [{}])[0]
    return (
        f"{event.deep_get('actor', 'displayName')} <{event.deep_get('actor', 'alternateId')}> "
        f"granted [{_granted(event)}] privileges to "
        f"{target.get('displayName')} <{target.get('alternateId')}>"
    )


def dedup(event):
    return event.deep_get("debugContext", "debugData", "requestId")


def severity(event):
    return "HIGH" if "Super administrator" in _granted(event) else "DEFAULT"


def alert_context(event):
    return {
        "ips": event.get("p_any_ip_addresses", []),
        # `get`, not `[]` as in the article: a missing key is `null`, as in the YAML twin.
        "actor": event.get("actor"),
        "target": event.get("target"),
        "client": event.get("client"),
    }

# The second seed article's scheduled rule, in Python: over the rows of the query "Okta Bypass MFA
# Group adds in four weeks" (one per user: `user`, `user_display_name`, `adds`, `first_match`,
# `last_match`), a user added more than twice.


def rule(event):
    return (event.get("adds") or 0) > 2


def title(event):
    return (
        f"{event.get('user_display_name')} was added to the Bypass MFA group "
        f"{event.get('adds')} times in four weeks"
    )


def dedup(event):
    return event.get("user")


def alert_context(event):
    return {key: event.get(key) for key in ("user", "adds", "first_match", "last_match")}

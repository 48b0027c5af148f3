"""Making text people read: the view model per role and the Jinja2 parts (renderer), the template
environment and its escaping (environment), template problems as FILE:LINE (problems), a group
notice's members (group_view), one wording of durations and counts (wording), and payload text made
harmless for where it goes (safety)."""

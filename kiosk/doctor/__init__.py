"""``kiosk doctor``: the self-check. ``run`` runs and renders; the checks import ``findings``."""

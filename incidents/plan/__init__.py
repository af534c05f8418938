"""The emergency plan: frozen objects (model), read from YAML with line numbers (checker, sections),
loaded from a file or a stored copy (loading). Everything the rest of the domain needs is here."""
from incidents.plan.loading import load_plan_file, load_plan_text, plan_from_stored_text  # noqa: F401
from incidents.plan.model import *  # noqa: F401,F403

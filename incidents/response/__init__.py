"""The incident lifecycle under the plan: register, grade, activate, report, end, close; clocks and their
firing; assignments; corrections and withdrawal; closing an event never activated (dispositions);
the holiday watch; accountability."""

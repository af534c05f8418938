"""The incident lifecycle under the plan: register, grade, activate, report, end, close; clocks and their
firing; assignments; corrections and withdrawal; the holiday watch; accountability."""

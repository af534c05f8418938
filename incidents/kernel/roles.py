"""The roles of the bureau's people, as the plan and the product name them."""
from __future__ import annotations

# Kept for compatibility: an `admin` account has every right of SYSADMIN (permissions.py) plus the
# business reading it always had; new administrators are created as one of the three below.
ADMIN = "admin"
# 三权分立 (GB/T 22239-2019 8.1.4.2): the three administrators, apart from the business roles.
SYSADMIN = "sysadmin"  # 系统管理员: users and settings; no incidents, no audit reading
SECADMIN = "secadmin"  # 安全管理员: security settings, sessions, lockouts, tokens; no business data
AUDITOR = "auditor"  # 审计管理员: reads the audit trail and its verification only
LEADER = "leader"  # 应急领导小组
COMMANDER = "commander"  # 专项应急指挥部
OFFICE = "office"  # 突发事件应急办公室 / 办公室（应急管理科）
DUTY_OFFICER = "duty_officer"  # 科室值班员
DEPARTMENT_HEAD = "department_head"  # 科室负责人
STATION = "station"  # 市场监督管理所
VIEWER = "viewer"

ROLES: dict[str, str] = {
    ADMIN: "系统管理员（旧）",
    SYSADMIN: "系统管理员",
    SECADMIN: "安全管理员",
    AUDITOR: "审计管理员",
    LEADER: "应急领导小组",
    COMMANDER: "专项应急指挥部",
    OFFICE: "应急办公室",
    DUTY_OFFICER: "科室值班员",
    DEPARTMENT_HEAD: "科室负责人",
    STATION: "市场监督管理所",
    VIEWER: "只读用户",
}

# The system itself (scheduler, holiday watch): acts only as the plan says, never logs in.
SYSTEM = "system"

# Roles whose user belongs to one unit (a department, or a station for STATION).
UNIT_ROLES = frozenset({DUTY_OFFICER, DEPARTMENT_HEAD, STATION})

# Roles whose user belongs to a department and works its board.
DEPARTMENT_ROLES = frozenset({DUTY_OFFICER, DEPARTMENT_HEAD})

# The three administrators: they see no incident, complaint or roster (the business data).
ADMINISTRATOR_ROLES = frozenset({SYSADMIN, SECADMIN, AUDITOR})

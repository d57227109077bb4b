"""Microsoft's own words: the apps, resources, result codes and client names Entra ID writes.

The application ids are Microsoft's published first-party ids; the result codes and their
texts are Entra ID's (AADSTS codes); ``clientAppUsed`` values are the ones Entra ID reports.
Nothing here is invented except the council's Conditional Access policy names.
"""

from __future__ import annotations

from dataclasses import dataclass

BROWSER = "Browser"
DESKTOP_AND_MOBILE = "Mobile Apps and Desktop clients"


GRAPH = ("00000003-0000-0000-c000-000000000000", "Microsoft Graph")
EXCHANGE = ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online")
SHAREPOINT = ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online")
TEAMS_SERVICES = ("cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Microsoft Teams Services")
AZURE_AD = ("00000002-0000-0000-c000-000000000000", "Windows Azure Active Directory")
AZURE_MANAGEMENT = ("797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API")
OFFICE_HOME_RESOURCE = ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome")


@dataclass(frozen=True)
class App:
    """A client application and the resource it signs in to."""

    app_id: str
    name: str
    resource: tuple[str, str]  # (resourceId, resourceDisplayName)
    client_app: str  # clientAppUsed
    interactive_share: float  # how often its sign-ins are interactive rather than token refreshes
    mobile: bool = False  # used from phones and tablets rather than Windows


APPS: tuple[App, ...] = (
    App("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams", TEAMS_SERVICES, DESKTOP_AND_MOBILE, 0.15),
    App("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office", EXCHANGE, DESKTOP_AND_MOBILE, 0.2),
    App("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome", OFFICE_HOME_RESOURCE, BROWSER, 0.8),
    App("9199bf20-a13f-4107-85dc-02114787ef48", "One Outlook Web", EXCHANGE, BROWSER, 0.6),
    App("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online", SHAREPOINT, BROWSER, 0.5),
    App("38aa3b87-a06d-4817-b275-7a316988d93b", "Windows Sign In", AZURE_AD, DESKTOP_AND_MOBILE, 0.9),
    App("29d9ed98-a469-4536-ade2-f981bc1d605e", "Microsoft Authentication Broker", GRAPH, DESKTOP_AND_MOBILE, 0.1),
    App("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile", EXCHANGE, DESKTOP_AND_MOBILE, 0.1, mobile=True),
    App(
        "1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams", TEAMS_SERVICES, DESKTOP_AND_MOBILE, 0.1, mobile=True
    ),
    App("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal", AZURE_MANAGEMENT, BROWSER, 0.7),
)

#: How often each desktop app appears in a working day's sign-ins (Azure Portal: IT only).
DESKTOP_APP_WEIGHTS = {
    "Microsoft Teams": 30,
    "Microsoft Office": 22,
    "OfficeHome": 8,
    "One Outlook Web": 10,
    "Office 365 SharePoint Online": 12,
    "Windows Sign In": 10,
    "Microsoft Authentication Broker": 8,
}
MOBILE_APP_WEIGHTS = {"Outlook Mobile": 55, "Microsoft Teams": 45}


@dataclass(frozen=True)
class Result:
    """An Entra ID sign-in result: the AADSTS code with its texts."""

    code: int
    failure_reason: str | None
    additional_details: str | None

    @property
    def success(self) -> bool:
        return self.code == 0


SUCCESS = Result(0, None, None)
SUCCESS_MFA = Result(0, None, "MFA requirement satisfied by claim in the token")
INVALID_PASSWORD = Result(50126, "Error validating credentials due to invalid username or password.", None)
MFA_REQUIRED = Result(50074, "Strong Authentication is required.", "MFA required in Azure AD")
KMSI_INTERRUPT = Result(
    50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.", None
)
MFA_DENIED = Result(
    500121,
    "Authentication failed during strong authentication request.",
    "MFA denied; user declined the authentication",
)


@dataclass(frozen=True)
class Policy:
    policy_id: str
    name: str
    grant: tuple[str, ...]


#: The council's Conditional Access policies (ids are the council's own, fixed).
CA_REQUIRE_MFA = Policy("5f0a0b6c-8c1e-4e57-9c1a-2b7e0d9a1c01", "CA001 Require MFA for all users", ("Mfa",))
CA_COMPLIANT_DEVICE = Policy(
    "5f0a0b6c-8c1e-4e57-9c1a-2b7e0d9a1c02", "CA002 Require compliant device", ("RequireCompliantDevice",)
)
CA_BLOCK_LEGACY = Policy("5f0a0b6c-8c1e-4e57-9c1a-2b7e0d9a1c03", "CA003 Block legacy authentication", ("Block",))
POLICIES = (CA_REQUIRE_MFA, CA_COMPLIANT_DEVICE, CA_BLOCK_LEGACY)

#: User agents by device kind.
UA_EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.85"
)
UA_WINDOWS_CLIENT = "Windows-AzureAD-Authentication-Provider/1.0"
UA_IOS_OUTLOOK = "Outlook-iOS/2.0"
UA_IOS_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
UA_ANDROID_OUTLOOK = "Outlook-Android/2.0"
UA_ATTACKER_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
UA_SPRAY_TOOL = "python-requests/2.31.0"
UA_ACTIVESYNC = "Android-Mail/2023.11.12.583216440.Release"

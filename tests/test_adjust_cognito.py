"""local_aws/adjust/cognito.py: moto (pinned) still skips the Cognito types in CloudFormation, and the
adjusted server's stacks create, update and delete the user pool, app client and domain a template
declares, as the cognito-idp API then describes them; a user of the deployed pool signs in against the
deployed client and gets the RS256 tokens the local page gateway will check.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from joserfc import jwk, jwt

from adjust_fixtures import aws, client, deploy_change_set  # noqa: F401 (aws and client are fixtures)
from local_aws.adjust.registry import ORIGINALS
from local_aws.not_enforced import NOT_ENFORCED

pytestmark = pytest.mark.usefixtures("aws")

COGNITO_TYPES = ("AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolDomain")
PASSWORD = "Correct-Horse-9-Battery"


def pool_properties(**changes) -> dict:
    """The page's user pool as the stack synthesizes it (/work/prompts/web-types.json), with changes."""
    properties = {
        "UserPoolName": "PageUsers",
        "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        "AutoVerifiedAttributes": ["email"],
        "EmailVerificationMessage": "The verification code to your new account is {####}",
        "EmailVerificationSubject": "Verify your new account",
        "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
        "MfaConfiguration": "OPTIONAL",
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireLowercase": True, "RequireNumbers": True,
                                        "RequireSymbols": True, "RequireUppercase": True,
                                        "TemporaryPasswordValidityDays": 3}},
        "UsernameAttributes": ["email"],
        "VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_CODE",
                                        "EmailMessage": "The verification code to your new account is {####}",
                                        "EmailSubject": "Verify your new account"},
    }
    properties.update(changes)
    return {name: value for name, value in properties.items() if value is not None}


def client_properties(**changes) -> dict:
    properties = {
        "UserPoolId": {"Ref": "Pool"}, "ClientName": "PageClient", "GenerateSecret": False,
        "AccessTokenValidity": 60, "IdTokenValidity": 60, "RefreshTokenValidity": 1440,
        "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"},
        "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthScopes": ["openid", "email", "profile"],
        "CallbackURLs": ["https://d111111abcdef8.cloudfront.net/"],
        "LogoutURLs": ["https://d111111abcdef8.cloudfront.net/"],
        "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
        "PreventUserExistenceErrors": "ENABLED", "SupportedIdentityProviders": ["COGNITO"],
    }
    properties.update(changes)
    return {name: value for name, value in properties.items() if value is not None}


def users_template(*, pool: dict | None = None, page_client: dict | None = None, domain: str = "imagelabels-test",
                   secret_output: bool = False) -> str:
    outputs = {
        "Pool": {"Ref": "Pool"}, "Arn": {"Fn::GetAtt": ["Pool", "Arn"]},
        "ProviderName": {"Fn::GetAtt": ["Pool", "ProviderName"]},
        "ProviderURL": {"Fn::GetAtt": ["Pool", "ProviderURL"]}, "PoolId": {"Fn::GetAtt": ["Pool", "UserPoolId"]},
        "Client": {"Ref": "Client"}, "ClientId": {"Fn::GetAtt": ["Client", "ClientId"]},
        "ClientName": {"Fn::GetAtt": ["Client", "Name"]}, "Domain": {"Ref": "Domain"},
    }
    if secret_output:
        outputs["ClientSecret"] = {"Fn::GetAtt": ["Client", "ClientSecret"]}
    return json.dumps({
        "Resources": {
            "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": pool or pool_properties(),
                     "UpdateReplacePolicy": "Delete", "DeletionPolicy": "Delete"},
            "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": page_client or client_properties()},
            "Domain": {"Type": "AWS::Cognito::UserPoolDomain",
                       "Properties": {"Domain": domain, "UserPoolId": {"Ref": "Pool"}}},
        },
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    })


def secret_copied_template(domain: str) -> str:
    """The users template with the client's secret copied into a parameter (the client has none)."""
    template = json.loads(users_template(domain=domain))
    template["Resources"]["SecretCopy"] = {"Type": "AWS::SSM::Parameter", "Properties": {
        "Type": "String", "Value": {"Fn::GetAtt": ["Client", "ClientSecret"]}}}
    return json.dumps(template)


def outputs_of(stack: dict) -> dict:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def update(client, stack: str, template: str) -> dict:
    """An update as `cdk deploy` makes it: a change set, executed."""
    return deploy_change_set(client, stack, template, "UPDATE")


def failure_reasons(client, stack: str) -> list[str]:
    events = client("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]
    return [event.get("ResourceStatusReason") or "" for event in events]


def described_client(client, outputs: dict) -> dict:
    return client("cognito-idp").describe_user_pool_client(
        UserPoolId=outputs["Pool"], ClientId=outputs["Client"])["UserPoolClient"]


def claims_of(token: str) -> tuple[dict, dict]:
    def part(text: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))

    header, payload, _ = token.split(".")
    return part(header), part(payload)


def test_moto_still_skips_the_cognito_types_in_cloudformation():
    assert not set(COGNITO_TYPES) & ORIGINALS["cloudformation model types"]


def test_a_template_pool_client_and_domain_are_there_and_follow_updates(aws, client):
    idp = client("cognito-idp")
    stack = deploy_change_set(client, "users-stack", users_template(), "CREATE")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = outputs_of(stack)
    pool_id = outputs["Pool"]
    provider = f"cognito-idp.{aws.region}.amazonaws.com/{pool_id}"
    assert pool_id.startswith(f"{aws.region}_") and outputs["PoolId"] == pool_id
    assert (outputs["ProviderName"], outputs["ProviderURL"]) == (provider, f"https://{provider}")

    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert (pool["Name"], pool["Arn"], pool["Domain"]) == ("PageUsers", outputs["Arn"], "imagelabels-test")
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert (pool["AutoVerifiedAttributes"], pool["UsernameAttributes"]) == (["email"], ["email"])
    assert pool["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert pool["VerificationMessageTemplate"]["DefaultEmailOption"] == "CONFIRM_WITH_CODE"
    mfa = idp.get_user_pool_mfa_config(UserPoolId=pool_id)
    assert (mfa["MfaConfiguration"], mfa["SoftwareTokenMfaConfiguration"]) == ("OPTIONAL", {"Enabled": True})

    page_client = described_client(client, outputs)
    assert outputs["ClientId"] == outputs["Client"] and outputs["ClientName"] == "PageClient"
    assert "ClientSecret" not in page_client
    declared = {name: value for name, value in client_properties().items() if name not in ("UserPoolId", "GenerateSecret")}
    assert {name: page_client.get(name) for name in declared} == declared
    domain = idp.describe_user_pool_domain(Domain="imagelabels-test")["DomainDescription"]
    assert (outputs["Domain"], domain["UserPoolId"], domain["Status"]) == ("imagelabels-test", pool_id, "ACTIVE")

    # In place: the pool is renamed, its password policy and MFA change; the client's scopes change and
    # what the template drops (LogoutURLs) is gone. A new Domain replaces the domain.
    stack = update(client, "users-stack", users_template(
        pool=pool_properties(UserPoolName="PageUsersRenamed", MfaConfiguration="OFF", EnabledMfas=None,
                             Policies={"PasswordPolicy": {"MinimumLength": "16"}}),
        page_client=client_properties(AllowedOAuthScopes=["openid"], LogoutURLs=None, AccessTokenValidity="30"),
        domain="imagelabels-renamed"))
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    updated = outputs_of(stack)
    assert (updated["Pool"], updated["Client"]) == (pool_id, outputs["Client"])
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert (pool["Name"], pool["Policies"]["PasswordPolicy"]["MinimumLength"]) == ("PageUsersRenamed", 16)
    assert pool["UsernameAttributes"] == ["email"]  # kept: it is fixed at creation
    assert idp.get_user_pool_mfa_config(UserPoolId=pool_id)["MfaConfiguration"] == "OFF"
    page_client = described_client(client, updated)
    assert (page_client["AllowedOAuthScopes"], page_client["AccessTokenValidity"]) == (["openid"], 30)
    assert "LogoutURLs" not in page_client
    assert updated["Domain"] == "imagelabels-renamed"
    assert idp.describe_user_pool_domain(Domain="imagelabels-renamed")["DomainDescription"]["UserPoolId"] == pool_id
    assert idp.describe_user_pool_domain(Domain="imagelabels-test")["DomainDescription"] == {}

    # GenerateSecret is chosen at creation: a client with a secret replaces the old one.
    stack = update(client, "users-stack", users_template(
        page_client=client_properties(GenerateSecret=True), domain="imagelabels-renamed", secret_output=True))
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    replaced = outputs_of(stack)
    assert replaced["Client"] != outputs["Client"]
    assert described_client(client, replaced)["ClientSecret"] == replaced["ClientSecret"]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        described_client(client, outputs)

    client("cloudformation").delete_stack(StackName="users-stack")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        idp.describe_user_pool(UserPoolId=pool_id)
    assert idp.describe_user_pool_domain(Domain="imagelabels-renamed")["DomainDescription"] == {}


def test_changing_a_pool_setting_fixed_at_creation_fails_the_update_with_its_reason(client):
    stack = deploy_change_set(client, "fixed-stack", users_template(domain="imagelabels-fixed"), "CREATE")
    pool_id = outputs_of(stack)["Pool"]
    stack = update(client, "fixed-stack", users_template(pool=pool_properties(UsernameAttributes=None),
                                                         domain="imagelabels-fixed"))
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    assert any("changing UsernameAttributes replaces the user pool" in reason
               for reason in failure_reasons(client, "fixed-stack"))
    assert client("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"]["UsernameAttributes"] == ["email"]
    client("cloudformation").delete_stack(StackName="fixed-stack")


def test_bad_templates_fail_the_stack_with_their_reason_and_leave_nothing(client):
    idp = client("cognito-idp")
    pools_before = idp.list_user_pools(MaxResults=60)["UserPools"]
    cases = {
        "no-factor": (users_template(pool=pool_properties(EnabledMfas=None), domain="imagelabels-bad-1"),
                      "MfaConfiguration OPTIONAL needs SOFTWARE_TOKEN_MFA or SMS_MFA in EnabledMfas"),
        "unknown-property": (users_template(pool=pool_properties(PasswordPolicy={"MinimumLength": 8}),
                                            domain="imagelabels-bad-2"),
                             "AWS::Cognito::UserPool has properties it does not support: PasswordPolicy"),
        "no-secret": (secret_copied_template(domain="imagelabels-bad-3"),
                      "does not support attribute type ClientSecret"),
    }
    for name, (template, reason) in cases.items():
        stack = deploy_change_set(client, f"bad-{name}", template, "CREATE")
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE", name
        assert any(reason in text for text in failure_reasons(client, f"bad-{name}")), name
        client("cloudformation").delete_stack(StackName=f"bad-{name}")
    assert idp.list_user_pools(MaxResults=60)["UserPools"] == pools_before


def test_a_user_of_the_deployed_pool_signs_in_and_gets_the_pools_rs256_tokens(aws, client):
    idp = client("cognito-idp")
    five_minutes = client_properties(AccessTokenValidity=5, IdTokenValidity=5)
    outputs = outputs_of(deploy_change_set(client, "sign-in-stack", users_template(
        page_client=five_minutes, domain="imagelabels-sign-in"), "CREATE"))
    pool_id, client_id = outputs["Pool"], outputs["Client"]
    idp.admin_create_user(UserPoolId=pool_id, Username="ann@example.com", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "ann@example.com"}])
    # The template's password policy (at least 12 characters) is the pool's.
    with pytest.raises(ClientError, match="InvalidPasswordException"):
        idp.admin_set_user_password(UserPoolId=pool_id, Username="ann@example.com", Password="Short-9a", Permanent=True)
    idp.admin_set_user_password(UserPoolId=pool_id, Username="ann@example.com", Password=PASSWORD, Permanent=True)

    # The client allows only ALLOW_REFRESH_TOKEN_AUTH (and the code grant), yet USER_PASSWORD_AUTH
    # answers: moto never checks ExplicitAuthFlows (said in local_aws.not_enforced.NOT_ENFORCED).
    with pytest.raises(ClientError, match="NotAuthorizedException"):
        idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "ann@example.com", "PASSWORD": PASSWORD + "x"})
    assert any("ExplicitAuthFlows is not checked" in line for line in NOT_ENFORCED)
    tokens = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "ann@example.com", "PASSWORD": PASSWORD})["AuthenticationResult"]
    issuer = f"https://cognito-idp.{aws.region}.amazonaws.com/{pool_id}"
    (id_header, id_claims), (access_header, access_claims) = claims_of(tokens["IdToken"]), claims_of(tokens["AccessToken"])
    assert id_header["alg"] == access_header["alg"] == "RS256"
    assert id_claims["iss"] == access_claims["iss"] == issuer
    assert (id_claims["token_use"], id_claims["aud"], id_claims["email"]) == ("id", client_id, "ann@example.com")
    assert (access_claims["token_use"], access_claims["client_id"]) == ("access", client_id)
    assert "aud" not in access_claims  # an access token names its client in client_id, as Cognito's do
    # moto's tokens last an hour whatever the client's validities (said in NOT_ENFORCED).
    assert tokens["ExpiresIn"] == 3600
    assert id_claims["exp"] - id_claims["iat"] == access_claims["exp"] - access_claims["iat"] == 3600

    # Finding: the pool's JWKS answers on the local AWS's one port, unsigned (moto routes the path
    # /<pool id>/.well-known/jwks.json to cognito-idp by itself), and verifies both tokens.
    with urllib.request.urlopen(f"{aws.endpoint_url}/{pool_id}/.well-known/jwks.json", timeout=10) as response:
        key_set = json.loads(response.read())
    key, = [key for key in key_set["keys"] if key["kid"] == id_header["kid"] == access_header["kid"]]
    assert key["alg"] == "RS256"
    public_key = jwk.RSAKey.import_key(key)
    for token in (tokens["IdToken"], tokens["AccessToken"]):
        assert jwt.decode(token, public_key, algorithms=["RS256"]).claims["iss"] == issuer
    with urllib.request.urlopen(f"{aws.endpoint_url}/{pool_id}/.well-known/openid-configuration", timeout=10) as response:
        assert json.loads(response.read())["issuer"] == issuer
    # The key is moto's one bundled key: the same set answers for a pool that does not exist (NOT_ENFORCED),
    # so the gateway must check iss against the deployed pool, not trust whoever signed.
    with urllib.request.urlopen(f"{aws.endpoint_url}/{aws.region}_nosuchpool/.well-known/jwks.json", timeout=10) as response:
        assert json.loads(response.read()) == key_set
    client("cloudformation").delete_stack(StackName="sign-in-stack")

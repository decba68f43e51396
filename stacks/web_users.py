"""The page's users: a Cognito user pool (users created by an administrator), its sign-in domain and
the page's app client (authorization code grant with PKCE, no secret: the page is a public client)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from stacks.compliance import acknowledge

SCOPES = ("openid", "email", "profile")


class WebUsers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_prefix: str,
        page_origins: list[str],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.user_pool = cognito.UserPool(
            self,
            "Pool",
            # The library is private: an administrator creates each user (admin-create-user).
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            removal_policy=removal_policy,
        )
        acknowledge(self.user_pool, "AwsSolutions-COG2",
            "MFA is optional (TOTP): users of a private image library may turn it on; requiring it "
            "would lock out the administrator-created users until each set up an authenticator.",
        )
        acknowledge(self.user_pool, "AwsSolutions-COG8",
            "The Plus feature plan (threat protection) is paid per user; the pool admits only "
            "administrator-created users, and MFA is available to them.",
        )

        self.domain = self.user_pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix)
        )
        # Written from the prefix rather than read from the domain resource: the distribution's
        # headers policy names it, and the client names the distribution (no cycle this way).
        self.domain_name = self.domain_name_for(self, domain_prefix)
        self.base_url = f"https://{self.domain_name}"

        # The page's redirect_uri is location.origin + "/".
        page_urls = [f"{origin}/" for origin in page_origins]
        self.client = self.user_pool.add_client(
            "PageClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=False, user_password=False, admin_user_password=False, custom=False),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False,
                                         client_credentials=False),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=page_urls,
                logout_urls=page_urls,
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(1),
        )
        self.issuer = f"https://cognito-idp.{stack.region}.amazonaws.com/{self.user_pool.user_pool_id}"

    @staticmethod
    def domain_name_for(scope: Construct, domain_prefix: str) -> str:
        """The host name of a Cognito prefix domain in the scope's Region."""
        return f"{domain_prefix}.auth.{Stack.of(scope).region}.amazoncognito.com"

"""The stack: composes the image store, the label index, the labeller, the film labeller and the web
page, and grants between them."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from stacks.alarms import LabellerAlarms
from stacks.film_alarms import FilmLabellerAlarms
from stacks.film_labeller import FilmLabeller
from stacks.image_store import ImageStore
from stacks.label_index import LabelIndex
from stacks.labeller import Labeller
from stacks.page_release import PageRelease
from stacks.settings import PipelineSettings, default_auth_domain_prefix
from stacks.web_api import WebApi
from stacks.web_site import WebSite
from stacks.web_users import SCOPES, WebUsers

# Rekognition reads JPEG and PNG only. S3 suffix filters are case-sensitive, hence both cases.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
# Rekognition Video reads H.264 in MPEG-4 or MOV containers.
FILM_SUFFIXES = (".mp4", ".mov", ".MP4", ".MOV")
OBJECT_EVENTS = (s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED)


class ImageLabelsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: PipelineSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        images = ImageStore(self, "ImageStore", removal_policy=settings.removal_policy)
        index = LabelIndex(
            self,
            "LabelIndex",
            removal_policy=settings.removal_policy,
            deletion_protection=settings.deletion_protection,
        )
        labeller = Labeller(
            self,
            "Labeller",
            table_name=index.table.table_name,
            min_confidence=settings.min_confidence,
            max_labels=settings.max_labels,
            log_retention=settings.log_retention,
            removal_policy=settings.removal_policy,
            reserved_concurrency=settings.reserved_concurrency,
        )

        images.grant_read_images(labeller.role)
        index.grant_label_writes(labeller.role)

        films = FilmLabeller(
            self,
            "FilmLabeller",
            table_name=index.table.table_name,
            min_confidence=settings.video_min_confidence,
            start_concurrency=settings.video_start_concurrency,
            retry_seconds=settings.video_retry_seconds,
            log_retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        images.grant_read_films(films.starter_role)
        index.grant_film_writes(films.starter_role)
        index.grant_film_writes(films.collector_role)

        for destination, suffixes in (
            (s3n.LambdaDestination(labeller.function), IMAGE_SUFFIXES),
            (films.receive_object_events(images.bucket), FILM_SUFFIXES),
        ):
            for event_type in OBJECT_EVENTS:
                for suffix in suffixes:
                    images.bucket.add_event_notification(
                        event_type, destination, s3.NotificationKeyFilter(suffix=suffix)
                    )

        # Plain outputs, no exports: tools read them with DescribeStacks, and no other stack
        # can come to depend on them.
        CfnOutput(self, "BucketName", value=images.bucket.bucket_name)
        CfnOutput(self, "TableName", value=index.table.table_name)
        CfnOutput(self, "FunctionName", value=labeller.function.function_name)
        CfnOutput(self, "FailedEventsQueueUrl", value=labeller.failed_events.queue_url)
        CfnOutput(self, "FilmEventsQueueUrl", value=films.events.queue_url)
        CfnOutput(self, "FilmEventFailuresQueueUrl", value=films.event_failures.queue_url)
        CfnOutput(self, "FilmCompletionsQueueUrl", value=films.completions.queue_url)
        CfnOutput(self, "FilmCompletionFailuresQueueUrl", value=films.completion_failures.queue_url)
        CfnOutput(self, "FilmJobsTopicArn", value=films.jobs.topic_arn)
        CfnOutput(self, "StarterFunctionName", value=films.starter.function_name)
        CfnOutput(self, "CollectorFunctionName", value=films.collector.function_name)

        self.web = None
        if settings.web_page:
            self.web = self._add_web_page(images, index, settings)

        self.alarms = None
        if settings.alarms:
            self.alarms = LabellerAlarms(
                self,
                "Alarms",
                function=labeller.function,
                failed_events=labeller.failed_events,
                email=settings.alarm_email,
                removal_policy=settings.removal_policy,
            )
            FilmLabellerAlarms(self, "FilmAlarms", films=films, alarms=self.alarms)
            CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)

        self.images = images
        self.index = index
        self.labeller = labeller
        self.films = films

    def _add_web_page(self, images: ImageStore, index: LabelIndex, settings: PipelineSettings) -> "WebPage":
        web = settings.web
        domain_prefix = web.auth_domain_prefix or default_auth_domain_prefix(self.stack_name, self.account)
        # The sign-in domain's name is known from its prefix; the site's CSP names it, and the app
        # client names the site's origins, so the user pool comes after the site.
        auth_domain_name = WebUsers.domain_name_for(self, domain_prefix)
        api = WebApi(
            self,
            "WebApi",
            table_name=index.table.table_name,
            bucket_name=images.bucket.bucket_name,
            url_seconds=web.url_seconds,
            upload_url_seconds=web.upload_url_seconds,
            throttle_rate=web.throttle_rate,
            throttle_burst=web.throttle_burst,
            log_retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        site = WebSite(
            self,
            "WebSite",
            api_domain_name=api.domain_name,
            image_bucket_domain_name=images.bucket.bucket_regional_domain_name,
            auth_domain_name=auth_domain_name,
            domain_name=web.domain_name,
            certificate_arn=web.certificate_arn,
            removal_policy=settings.removal_policy,
        )
        users = WebUsers(
            self,
            "WebUsers",
            domain_prefix=domain_prefix,
            page_origins=site.page_origins,
            removal_policy=settings.removal_policy,
        )
        api.require_tokens_of(issuer=users.issuer, audience=[users.client.user_pool_client_id])
        release = PageRelease(
            self,
            "PageRelease",
            site_bucket_name=site.bucket.bucket_name,
            distribution_id=site.distribution.distribution_id,
            config={
                "region": self.region,
                "apiBase": "/api",
                "auth": {
                    "clientId": users.client.user_pool_client_id,
                    "authorizeUrl": f"{users.base_url}/oauth2/authorize",
                    "tokenUrl": f"{users.base_url}/oauth2/token",
                    "logoutUrl": f"{users.base_url}/logout",
                    "scopes": list(SCOPES),
                },
            },
            image_bucket_name=images.bucket.bucket_name,
            page_origins=site.page_origins,
            log_retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )

        index.grant_web_reads(api.role)
        images.grant_web_reads_and_uploads(api.role)
        site.grant_publication(release.role)
        images.grant_upload_cors(release.role)

        CfnOutput(self, "PageUrl", value=site.page_url)
        CfnOutput(self, "DistributionId", value=site.distribution.distribution_id)
        CfnOutput(self, "SiteBucketName", value=site.bucket.bucket_name)
        CfnOutput(self, "UserPoolId", value=users.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=users.client.user_pool_client_id)
        CfnOutput(self, "WebApiFunctionName", value=api.function.function_name)
        return WebPage(site=site, users=users, api=api, release=release)


@dataclass(frozen=True)
class WebPage:
    site: WebSite
    users: WebUsers
    api: WebApi
    release: PageRelease

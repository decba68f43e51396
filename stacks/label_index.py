"""The DynamoDB table that keeps every image's labels searchable.

One table, three kinds of item (see README, "Data model"):
- the image item         ImageId=<object key>      Entry="IMAGE"
- one item per label     ImageId=<object key>      Entry="LABEL#<label, lower case>"
- one counter per label  ImageId="LABEL#<label>"   Entry="COUNT"

"What labels does image X have" is a Query on the table's keys; "which images carry label L,
highest confidence first" is a Query on the ByLabel index (partition LabelKey, sort Confidence);
"which labels exist, and on how many images" is a Query on the LabelCatalog index plus the counters.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

PARTITION_KEY = "ImageId"
SORT_KEY = "Entry"
BY_LABEL_INDEX = "ByLabel"
LABEL_CATALOG_INDEX = "LabelCatalog"
EXPIRY_ATTRIBUTE = "ExpiresAt"


class LabelIndex(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)

        # dynamodb.Table (AWS::DynamoDB::Table), not TableV2 (AWS::DynamoDB::GlobalTable): a
        # single-Region table is all this needs, and the local AWS models only this type.
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=deletion_protection,
            # Deleted images leave a short-lived tombstone so that a late, older event cannot
            # bring them back; TTL removes the tombstone once no such event can arrive.
            time_to_live_attribute=EXPIRY_ATTRIBUTE,
            removal_policy=removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=BY_LABEL_INDEX,
            partition_key=dynamodb.Attribute(name="LabelKey", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="Confidence", type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Only counter items carry Catalog, so this index lists each label once. Keys and the
        # display name only: the count itself is read from the table, so that counter updates
        # do not write to the index.
        self.table.add_global_secondary_index(
            index_name=LABEL_CATALOG_INDEX,
            partition_key=dynamodb.Attribute(name="Catalog", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="LabelKey", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=["Label"],
        )

    def grant_label_writes(self, grantee: iam.IGrantable) -> None:
        """Exactly what the labeller calls: a consistent read of the image item, then one
        TransactWriteItems whose parts are authorised as PutItem, DeleteItem and UpdateItem.
        On the table only: the labeller never reads an index."""
        self._grant(grantee, "WriteImageLabels", ["GetItem", "PutItem", "DeleteItem", "UpdateItem"])

    def grant_film_writes(self, grantee: iam.IGrantable) -> None:
        """What the film starter and collector call: the film item's read, the Query of the film's
        own label entries, and transactions whose parts are authorised as PutItem, DeleteItem,
        UpdateItem (counters) and ConditionCheckItem (the film item's JobId and Status).
        On the table only: neither reads an index."""
        self._grant(grantee, "WriteFilmLabels",
                    ["GetItem", "PutItem", "DeleteItem", "UpdateItem", "ConditionCheckItem", "Query"])

    def grant_web_reads(self, grantee: iam.IGrantable) -> None:
        """What the web page's API reads: Queries of the table (an object's entries) and of both
        indexes (search, the catalogue), and item reads (the counters, the objects of a page of hits)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QueryLabels",
                actions=["dynamodb:Query"],
                resources=[
                    self.table.table_arn,
                    *(f"{self.table.table_arn}/index/{index}" for index in (BY_LABEL_INDEX, LABEL_CATALOG_INDEX)),
                ],
            )
        )
        self._grant(grantee, "ReadLabelItems", ["GetItem", "BatchGetItem"])

    def _grant(self, grantee: iam.IGrantable, sid: str, operations: list[str]) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=[f"dynamodb:{operation}" for operation in operations],
                resources=[self.table.table_arn],
            )
        )

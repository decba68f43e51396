"""Alarms that tell a person the film pipeline needs attention, on the labeller's alarm topic."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.alarms import PERIOD, LabellerAlarms
from stacks.film_labeller import FilmLabeller

# SQS leaves a message received three or more times out of ApproximateAgeOfOldestMessage, so the
# starts the starter keeps backing off (the account's 20 running jobs) do not count here: an old
# message means one the starter has not taken from the queue at all for this long. Backed-off starts
# that never succeed reach the dead-letter queue (EventFailuresWaiting).
OLDEST_START_WAITING = Duration.hours(6)
# What the collector logs (a top-level JSON field, through Lambda's JSON log format) for a job
# whose film it records as FAILED: the image labeller's outcome of the same name.
FAILED_OUTCOME = "failed"


class FilmLabellerAlarms(Construct):
    """Failed jobs, a backlog that does not drain, anything in either dead-letter queue, errors of
    either function. Missing data is "not breaching": idle functions and queues publish none."""

    def __init__(self, scope: Construct, construct_id: str, *, films: FilmLabeller, alarms: LabellerAlarms) -> None:
        super().__init__(scope, construct_id)

        # A metric filter on the collector's own JSON log lines: no metric code in the function,
        # and the log line that counts is the one a person reads next.
        failed_jobs = logs.MetricFilter(
            self,
            "FailedJobsMetric",
            log_group=films.collector_logs,
            filter_pattern=logs.FilterPattern.string_value("$.outcome", "=", FAILED_OUTCOME),
            metric_namespace=f"ImageLabels/{Stack.of(self).stack_name}",
            metric_name="FailedFilmJobs",
            metric_value="1",
        )
        self.failed_jobs = alarms.add_alarm(
            self,
            "FailedJobs",
            description=(
                "Rekognition reported film label-detection jobs as failed; their films are recorded FAILED "
                "with Rekognition's message. See the collector's log group (outcome \"failed\")."
            ),
            metric=failed_jobs.metric(period=PERIOD, statistic="Sum"),
            at_least=1,
        )
        self.starts_waiting = alarms.add_alarm(
            self,
            "StartsWaiting",
            description=(
                "A film event has waited more than 6 hours in the film-events queue without the starter taking "
                "it: the event source mapping is disabled or the starter does not run. (Starts it backs off "
                "for the account's job quota are not counted by this SQS metric.)"
            ),
            metric=films.events.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            at_least=OLDEST_START_WAITING.to_seconds(),
        )
        self.event_failures_waiting = alarms.add_alarm(
            self,
            "EventFailuresWaiting",
            description=(
                "Film events could not be started after about 48 hours of retries and wait in the "
                "film-event-failures queue (kept 14 days): those films are not labelled until replayed."
            ),
            metric=films.event_failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"),
            at_least=1,
        )
        self.completion_failures_waiting = alarms.add_alarm(
            self,
            "CompletionFailuresWaiting",
            description=(
                "Finished film jobs could not be collected after 5 attempts and wait in the "
                "film-completion-failures queue (kept 14 days): those films stay PROCESSING until replayed."
            ),
            metric=films.completion_failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"),
            at_least=1,
        )
        self.starter_errors = alarms.add_alarm(
            self,
            "StarterErrors",
            description=(
                "The film starter raised errors (its whole batch returns to the film-events queue). "
                "See the starter's log group."
            ),
            metric=films.starter.metric_errors(period=PERIOD, statistic="Sum"),
            at_least=1,
        )
        self.collector_errors = alarms.add_alarm(
            self,
            "CollectorErrors",
            description=(
                "The film collector raised errors (the completion returns to its queue; after 5 attempts it "
                "goes to the film-completion-failures queue). See the collector's log group."
            ),
            metric=films.collector.metric_errors(period=PERIOD, statistic="Sum"),
            at_least=1,
        )

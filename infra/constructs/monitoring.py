"""Alarms on the agent's own failures (to the notification topic) and one dashboard."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .functions import AgentFunction

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(self, scope: Construct, id: str, *, functions: dict[str, AgentFunction], dlq: sqs.IQueue,
                 state_machine: sfn.StateMachine, api: apigw.RestApi, topic: sns.ITopic):
        super().__init__(scope, id)
        action = cw_actions.SnsAction(topic)
        self.alarms: list[cw.Alarm] = []

        def alarm(name: str, metric: cw.IMetric, description: str) -> cw.Alarm:
            created = cw.Alarm(self, name, metric=metric, threshold=1, evaluation_periods=1,
                               comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                               treat_missing_data=cw.TreatMissingData.NOT_BREACHING, alarm_description=description)
            created.add_alarm_action(action)
            self.alarms.append(created)
            return created

        for name, fn in functions.items():
            alarm(f"{name}Errors", fn.function.metric_errors(period=PERIOD, statistic="Sum"),
                  f"The {name} function failed")
        alarm("DeadLetters", dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
              "Incident events could not be delivered to intake")
        for name, metric in {
            "ExecutionsFailed": state_machine.metric_failed(period=PERIOD, statistic="Sum"),
            "ExecutionsTimedOut": state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            "ExecutionsAborted": state_machine.metric_aborted(period=PERIOD, statistic="Sum"),
        }.items():
            alarm(name, metric, f"Incident workflow: {name}")
        alarm("Api5xx", api.metric_server_error(period=PERIOD, statistic="Sum"), "The API answered 5xx")

        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(24))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Function errors", width=12,
                           left=[fn.function.metric_errors(period=PERIOD, label=n) for n, fn in functions.items()]),
            cw.GraphWidget(title="Function duration p90", width=12,
                           left=[fn.function.metric_duration(period=PERIOD, statistic="p90", label=n)
                                 for n, fn in functions.items()]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Incident workflow", width=12, left=[
                state_machine.metric_started(period=PERIOD), state_machine.metric_succeeded(period=PERIOD),
                state_machine.metric_failed(period=PERIOD), state_machine.metric_timed_out(period=PERIOD)]),
            cw.GraphWidget(title="API and dead letters", width=12,
                           left=[api.metric_count(period=PERIOD), api.metric_server_error(period=PERIOD),
                                 api.metric_client_error(period=PERIOD)],
                           right=[dlq.metric_approximate_number_of_messages_visible(period=PERIOD)]),
            cw.AlarmStatusWidget(title="Alarms", width=24, alarms=self.alarms),
        )

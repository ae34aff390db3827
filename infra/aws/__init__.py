"""The AWS CDK app: the same Chalice app, tables and IoT rules the local stack runs, for AWS."""

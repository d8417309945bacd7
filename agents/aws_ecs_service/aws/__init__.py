"""boto3 access: sessions and clients, read calls, and the policy-guarded write actions."""

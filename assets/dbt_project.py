"""The dbt project, as dagster-dbt knows it: where its manifest is, and how it is prepared."""

from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR, get_settings

# The manifest's path does not depend on the target; the dbt resource names the target per Settings.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=get_settings().dbt_target)

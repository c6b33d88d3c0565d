"""Reports for people, brokers, finance and councils: statements, review packs, dashboards."""

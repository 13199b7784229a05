"""Numbers over time for editors: subscriber growth, recent campaigns, as data
(`growth`, `recent`), inline SVG charts (`svg`) and spreadsheet-safe CSV (`csv_export`)."""

"""The association's year around the meetings: plan, preparation, questionnaires, resources, ..."""

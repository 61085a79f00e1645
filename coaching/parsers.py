"""The API's JSON parser: DRF's, with a too deeply nested body a 400.

``json.loads`` of ``[[[[...`` a few thousand levels deep raises
``RecursionError``, which is no ``ValueError``: DRF's parser let it through
and the request was answered 500.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser


class JSONParser(DrfJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None

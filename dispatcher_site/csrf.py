"""CSRF protection for the admin's forms only.

The APIs authenticate every request with a key or a token and use no session cookie, so there is no
ambient credential to forge a request with; checking CSRF there only turned a wrong method into a 403
instead of the API's 405 (issue 14). Django's CsrfViewMiddleware still guards every non-API path.
"""

from django.middleware.csrf import CsrfViewMiddleware

from dispatcher_site.error_formats import error_format_for


class AdminCsrfViewMiddleware(CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if error_format_for(request.path) is not None:
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)

/*
 * fcgi-empty: the ceiling of the web server + FastCGI path for
 * tests/bench-http.  It answers every request 200 without reading its
 * body or looking at anything, through the same libfcgi calls
 * swift-webhook makes.
 */
#include <fcgiapp.h>

int
main(void)
{
	static const char answer[] = "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
	    "{\"status\":\"ok\"}\n";
	FCGX_Request rq;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&rq, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&rq) >= 0) {
		FCGX_PutStr(answer, sizeof(answer) - 1, rq.out);
		FCGX_Finish_r(&rq);
	}
	return 0;
}

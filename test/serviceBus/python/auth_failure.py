"""A connection string with a wrong key: the broker's $cbs refuses the token, the client raises."""
import sbharness as sb


def run():
    wrong = ";".join(
        "SharedAccessKey=d3Jvbmc=" if part.startswith("SharedAccessKey=") else part
        for part in sb.CONNECTION_STRING.split(";")
    )
    try:
        with sb.client(wrong) as client:
            with client.get_queue_sender(sb.QUEUE) as sender:
                sender.send_messages([])
                sender.create_message_batch()
        sb.result(error=None)
    except Exception as error:
        sb.result(error=type(error).__name__, message=str(error))


sb.main(run)

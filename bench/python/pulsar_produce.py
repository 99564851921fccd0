"""What sample-pulsar-producer does, with the Python `pulsar-client`: subscribe (Exclusive, from
the latest message), send N messages with a key and properties, batching on (100 messages or
128 KiB or 10 ms, as the sample), wait for every receipt, then read them all back and acknowledge
each one. TLS with the CA from ASTRA_STREAMING_CA_PATH, token authentication.

    python pulsar_produce.py --messages 100000 --size 1024     # prints one JSON line
"""

import argparse
import json
import os
import threading
import time
import uuid

import pulsar


def payload(run_id, seq, count, size):
    text = f"message {seq} of {count} from run {run_id}"
    return (text + "." * max(0, size - len(text))).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    topic = os.environ["ASTRA_STREAMING_TOPIC"]
    if "://" not in topic:
        topic = "persistent://{}/{}/{}".format(
            os.environ["ASTRA_STREAMING_TENANT"], os.environ["ASTRA_STREAMING_NAMESPACE"], topic)

    started = time.perf_counter()
    client = pulsar.Client(
        os.environ["ASTRA_STREAMING_SERVICE_URL"],
        authentication=pulsar.AuthenticationToken(os.environ["ASTRA_STREAMING_TOKEN"]),
        tls_trust_certs_file_path=os.environ.get("ASTRA_STREAMING_CA_PATH"),
        tls_validate_hostname=True,
        logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn),
    )
    run_id = uuid.uuid4().hex[:12]
    consumer = client.subscribe(
        topic, f"python-pulsar-producer-{run_id}", consumer_type=pulsar.ConsumerType.Exclusive,
        initial_position=pulsar.InitialPosition.Latest)
    producer = client.create_producer(
        topic, batching_enabled=True, batching_max_messages=100,
        batching_max_allowed_size_in_bytes=128 * 1024, batching_max_publish_delay_ms=10,
        block_if_queue_full=True)

    count = args.messages
    confirmed = threading.Semaphore(0)
    failures = []

    def receipt(result, _message_id):
        if result != pulsar.Result.Ok:
            failures.append(result)
        confirmed.release()

    t0 = time.perf_counter()
    for seq in range(1, count + 1):
        producer.send_async(payload(run_id, seq, count, args.size), receipt, partition_key=f"device-{seq % 3}",
                            properties={"run-id": run_id, "seq": str(seq)})
    producer.flush()
    for _ in range(count):
        confirmed.acquire()
    produce_s = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"error: {len(failures)} sends failed: {failures[0]}")

    t0 = time.perf_counter()
    seen = set()
    while len(seen) < count:
        message = consumer.receive(timeout_millis=10000)
        properties = message.properties()
        if properties.get("run-id") == run_id:
            seq = int(properties["seq"])
            if message.data() != payload(run_id, seq, count, args.size):
                raise SystemExit(f"error: message {seq} has another payload")
            seen.add(seq)
        consumer.acknowledge(message)
    consume_s = time.perf_counter() - t0
    consumer.unsubscribe()
    producer.close()
    client.close()
    print(json.dumps({
        "interface": "pulsar", "client": "python", "messages": count, "size": args.size,
        "produce_per_s": count / produce_s, "consume_per_s": count / consume_s,
        "elapsed_s": time.perf_counter() - started,
    }))


if __name__ == "__main__":
    main()

// An agent written in Java: sends the records given on stdin with Kafka's own Java producer and
// its default partitioner, as a Java agent of the pipeline would.
//
// Usage: java -cp <kafka-clients and slf4j-api jars> JavaAgentProducer.java <bootstrap servers>
// stdin, one record per line: <topic> TAB <base64 key> TAB <base64 value>
// stdout, one line per record, in the same order: <topic> TAB <partition> TAB <offset>

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JavaAgentProducer {
    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        BufferedReader input =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config)) {
            String line;
            while ((line = input.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                String[] fields = line.split("\t");
                byte[] key = Base64.getDecoder().decode(fields[1]);
                byte[] value = Base64.getDecoder().decode(fields[2]);
                sent.add(producer.send(new ProducerRecord<>(fields[0], key, value)));
            }
            producer.flush();
            for (Future<RecordMetadata> each : sent) {
                RecordMetadata metadata = each.get();
                System.out.println(
                        metadata.topic() + "\t" + metadata.partition() + "\t" + metadata.offset());
            }
        }
    }
}

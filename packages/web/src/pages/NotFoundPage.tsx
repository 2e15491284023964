import { Anchor, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';

export function NotFoundPage() {
  return (
    <Stack>
      <Title order={2}>Not found</Title>
      <Text>There is no such page in the console.</Text>
      <Anchor component={Link} to="/">
        Home
      </Anchor>
    </Stack>
  );
}

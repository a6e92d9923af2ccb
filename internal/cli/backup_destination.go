package cli

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newBackupDestinationCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "backup-destination", Short: "S3-compatible buckets backups are written to (x-berth.backups.destination: s3:NAME)"}
	var d dto.BackupDestination
	var secretStdin bool
	add := &cobra.Command{
		Use:   "add NAME --endpoint HOST[:PORT] --bucket BUCKET --access-key KEY --secret-key-stdin",
		Short: "Store an S3-compatible destination, its secret key encrypted at rest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !secretStdin {
				return errors.New("pass the secret key on standard input with --secret-key-stdin (it never belongs on a command line)")
			}
			secret, err := readStdinSecret(cmd)
			if err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			d.Name = args[0]
			ds, err := c.AddBackupDestination(cmd.Context(), dto.BackupDestinationRequest{BackupDestination: d, SecretKey: secret})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored backup destination %s (%d known); use it with x-berth.backups.destination: s3:%s\n", d.Name, len(ds), d.Name)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&d.Endpoint, "endpoint", "", "the S3 endpoint, host[:port]")
	f.StringVar(&d.Bucket, "bucket", "", "the bucket (it must exist)")
	f.StringVar(&d.Prefix, "prefix", "", "a prefix for the objects' names")
	f.StringVar(&d.Region, "region", "", "the bucket's region, when the server wants one")
	f.StringVar(&d.AccessKey, "access-key", "", "the access key (a key of its own for backups, not an account's)")
	f.BoolVar(&d.Insecure, "insecure", false, "plain HTTP to the endpoint (only on a network of your own)")
	f.BoolVar(&secretStdin, "secret-key-stdin", false, "read the secret key from standard input")
	for _, n := range []string{"endpoint", "bucket", "access-key"} {
		_ = add.MarkFlagRequired(n)
	}
	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the S3-compatible backup destinations (never their secret keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) ([]dto.BackupDestination, error) { return c.BackupDestinations(cmd.Context()) }
			return readCmd(cmd, output, fetch, func(w io.Writer, ds []dto.BackupDestination) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tENDPOINT\tBUCKET\tPREFIX\tACCESS KEY")
				for _, d := range ds {
					ep := d.Endpoint
					if d.Insecure {
						ep += " (http)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, ep, d.Bucket, d.Prefix, d.AccessKey)
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(add, list)
	return cmd
}
